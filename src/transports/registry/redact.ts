/**
 * The registry code's name for `redactUrl` (src/types/url.ts), the one helper every printed
 * URL goes through: scheme, host and path, without user info, query or fragment.
 */
export { redactUrl as displayUrl } from "../../types/url.js";
