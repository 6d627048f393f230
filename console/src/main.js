// Element Plus components are imported where templates use them (vite.config.js); these are the styles of the parts
// the console calls from code rather than from a template.
import "element-plus/theme-chalk/base.css";
import "element-plus/es/components/message/style/css";
import "element-plus/es/components/message-box/style/css";
import "./styles.css";
import { createApp } from "vue";
import App from "./App.vue";
import { i18n } from "./i18n.js";
import { router } from "./router.js";

createApp(App).use(i18n).use(router).mount("#app");
