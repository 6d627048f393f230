// Cameras dragged from the resource tree onto the wall (or into a tour list): the tree sets this type with the
// camera as JSON ({gb_id, name, online, ptz, kind, ...}).
export const CAMERA_MIME = "application/x-tianyan-camera";

/** Whether a drag carries a camera; its data can be read only on drop. */
export function carriesCamera(event) {
  return Boolean(event.dataTransfer?.types?.includes(CAMERA_MIME));
}

/** The camera dropped, or null when the drop was something else. */
export function droppedCamera(event) {
  const text = event.dataTransfer?.getData(CAMERA_MIME);
  if (!text) return null;
  try {
    const camera = JSON.parse(text);
    return camera && typeof camera.gb_id === "string" ? camera : null;
  } catch {
    return null;
  }
}

// GB/T 28181 PTZType: 1 dome (球机), 2 half-dome, 3 fixed bullet, 4 remote-controlled bullet; as the catalog sync has it.
const STEERABLE_PTZ_TYPES = new Set([1, 4]);

/** Whether the camera can be steered, from whatever the camera record carries. */
export function isPtzCamera(camera) {
  if (!camera) return false;
  if (typeof camera.ptz === "boolean") return camera.ptz;
  return camera.kind === "ptz" || STEERABLE_PTZ_TYPES.has(camera.ptz_type);
}
