/** The web inbox's built files as the service serves them and provision/webApp.ts builds them. */

/** A file of the app by its name under /app/ (the page itself is WEB_INDEX), as text. */
export type WebAssets = Record<string, string>;

/** The page every asset is linked from, served at GET /. */
export const WEB_INDEX = "index.html";

/** The directory `npm run build` writes the app to, below the repository's dist/. */
export const WEB_DIST_DIR = "webapp";
