// Who is logged in and what the account may do. The console hides what the role and scope do not allow; the API
// refuses it anyway.
import { reactive } from "vue";
import { api } from "./api.js";

export const session = reactive({ me: null, loaded: false, expired: false });

export function can(permission) {
  return Boolean(session.me?.permissions?.includes(permission));
}

export async function loadMe() {
  try {
    session.me = await api.get("/auth/me");
  } catch {
    session.me = null;
  }
  session.loaded = true;
  return session.me;
}

export async function logIn(username, password, totp) {
  session.me = await api.post("/auth/login", { username, password, totp: totp || null });
  session.loaded = true;
  session.expired = false;
  return session.me;
}

export async function logOut() {
  try {
    await api.post("/auth/logout");
  } finally {
    session.me = null;
  }
}
