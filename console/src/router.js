// Pages, the permission each needs, and the login guard. Pages load on first visit, so the map's and the charts'
// libraries are fetched only by those who open them.
import {
  Cpu, DataLine, DocumentChecked, Flag, MapLocation, Monitor, Tools, Upload, User, VideoCamera,
} from "@element-plus/icons-vue";
import { createRouter, createWebHistory } from "vue-router";
import { can, loadMe, session } from "./session.js";

// The menu is built from these, in this order; `perm` hides the entry and guards the route.
export const PAGES = [
  { path: "/live", name: "live", icon: Monitor, perm: "video.live", component: () => import("./pages/LiveWall.vue") },
  { path: "/playback", name: "playback", icon: VideoCamera, perm: "video.playback",
    component: () => import("./pages/Playback.vue") },
  { path: "/map", name: "map", icon: MapLocation, perm: "camera.read", component: () => import("./pages/MapView.vue") },
  { path: "/health", name: "health", icon: DataLine, perm: "health.read",
    component: () => import("./pages/HealthDashboard.vue") },
  { path: "/work-orders", name: "workOrders", icon: Tools, perm: "health.read",
    component: () => import("./pages/WorkOrders.vue") },
  { path: "/plans", name: "plans", icon: Flag, perm: "plan.read", component: () => import("./pages/PlanProgress.vue") },
  { path: "/admin/users", name: "users", icon: User, perm: "user.manage", component: () => import("./pages/Users.vue") },
  { path: "/admin/devices", name: "devices", icon: Cpu, perm: "device.write",
    component: () => import("./pages/Devices.vue") },
  { path: "/admin/import", name: "import", icon: Upload, perm: "camera.write",
    component: () => import("./pages/ImportCameras.vue") },
  { path: "/audit", name: "audit", icon: DocumentChecked, perm: "audit.read", component: () => import("./pages/Audit.vue") },
];

export function firstAllowedPage() {
  return PAGES.find((page) => can(page.perm)) || null;
}

export const router = createRouter({
  history: createWebHistory("/console/"),
  routes: [
    { path: "/login", name: "login", component: () => import("./pages/Login.vue"), meta: { public: true } },
    {
      path: "/",
      component: () => import("./components/AppShell.vue"),
      children: [
        { path: "", name: "home", component: () => import("./pages/NoAccess.vue") },
        ...PAGES.map((page) => ({ path: page.path.slice(1), name: page.name, component: page.component,
          meta: { perm: page.perm } })),
      ],
    },
    { path: "/:rest(.*)*", redirect: "/" },
  ],
});

router.beforeEach(async (to) => {
  if (!session.loaded) await loadMe();
  if (to.meta.public) return true;
  if (!session.me) return { name: "login", query: to.fullPath !== "/" ? { next: to.fullPath } : {} };
  if (to.name === "home") {
    const first = firstAllowedPage();
    return first ? { name: first.name } : true;
  }
  if (to.meta.perm && !can(to.meta.perm)) return { name: "home" };
  return true;
});
