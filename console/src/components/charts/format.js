// Numbers as the charts and tables print them: rates arrive as fractions (0.953 = 95.3 %), null when there was
// nothing to take a rate of.
export function percent(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${(value * 100).toFixed(digits).replace(/\.0+$/, "")}%`;
}

/** A minimum such as 0.95 printed without trailing zeros: "95%". */
export function minimum(value) {
  if (value === null || value === undefined) return "—";
  return `${Number((value * 100).toFixed(2))}%`;
}

export function count(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("zh-CN");
}

function pad(n) {
  return String(n).padStart(2, "0");
}

/** Local date as the API takes it (YYYY-MM-DD). */
export function isoDay(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// The platform counts days and periods in Beijing time (Asia/Shanghai), whatever the browser's own zone.
const BEIJING = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hourCycle: "h23",
});

/** An ISO time from the API as "YYYY-MM-DD HH:mm" in Beijing time. */
export function dateTime(iso) {
  if (!iso) return "—";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return BEIJING.format(at);
}
