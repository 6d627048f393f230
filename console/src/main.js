import "element-plus/dist/index.css";
import "./styles.css";
import * as icons from "@element-plus/icons-vue";
import ElementPlus from "element-plus";
import { createApp } from "vue";
import App from "./App.vue";
import { i18n } from "./i18n.js";
import { router } from "./router.js";

const app = createApp(App);
for (const [name, component] of Object.entries(icons)) app.component(`Icon${name}`, component);
app.use(ElementPlus).use(i18n).use(router).mount("#app");
