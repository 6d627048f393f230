// ECharts with only what the console draws: bars, lines, the plan minimum as a mark line, on a canvas. The full
// library is several times the size, and every page that shows a chart would pay for it.
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, MarkLineComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, CanvasRenderer]);

export { echarts };

// Element Plus's palette, so charts and tags agree on what "pass" and "fail" look like.
export const COLOURS = {
  primary: "#409eff",
  pass: "#67c23a",
  fail: "#f56c6c",
  warn: "#e6a23c",
  muted: "#c0c4cc",
  target: "#b1b3b8",
};
