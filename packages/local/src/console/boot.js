/**
 * Runs first, from index.html's head, before the stylesheet and the console's modules have
 * loaded: it asks for the first page's data (a run, or the newest runs), who the person is
 * (whoami) and the console's settings (console-config.json, which auth.js reads before any view
 * draws), and starts loading dagre, so none waits for console.js. lib/api.js takes each answer
 * for the first page's request to the same path, and dagre is awaited only where a graph is laid out.
 *
 * The API base: `<meta name="reflex-api">`, else `?api=` when it is this origin or a loopback
 * address (a link must not send the person's actions and typed params elsewhere), else this origin.
 */
(() => {
  /** Everything boot.js does; on a page local mode's server drew, only after that page's first frame (below). */
  const boot = () => {
    // A page local mode's server drew (`/runs`, `/runs/<id>…`: first-paint.ts): its address in the
    // console's own form, at the root (`/#/runs/<id>`), so the console routes it as any other page
    // and its links stay within this page. replaceState: no reload, no new history entry. The
    // list's filters (`/runs?text=…`; views/runs-list.js FILTERS) go into the route, where the
    // list reads them; the rest of the query (`?api=`) stays where it is read below. The path as
    // the server read it (server.ts: `new URL(req.url, base)`): `//other.host/runs` is `/runs`
    // there, and as it is here, the address given would be another origin's, refused (the page
    // never taken over).
    const drawnAt = /^(.*?\/)(runs(?:\/.*)?)$/.exec(new URL(location.pathname, "http://127.0.0.1").pathname);
    if (drawnAt) {
      const search = new URLSearchParams(location.search);
      const route = new URLSearchParams();
      for (const name of /^runs\/?$/.test(drawnAt[2]) ? ["status", "runbook", "trigger", "text"] : [])
        if (search.has(name)) route.set(name, search.get(name) ?? "");
      for (const name of route.keys()) search.delete(name);
      const [rest, filtered] = [search.toString(), route.toString()];
      const kept = filtered ? (rest ? `?${rest}` : "") : location.search;
      history.replaceState(null, "", `${drawnAt[1]}${kept}#/${drawnAt[2]}${filtered ? `?${filtered}` : ""}`);
    }
    // The API answers that page was drawn from, inlined in it (lib/api.js takes them): not asked again.
    const inline = (document.querySelector('meta[name="reflex-inline"]')?.content ?? "").split(" ");
    const meta = document.querySelector('meta[name="reflex-api"]')?.content;
    const asked = new URLSearchParams(location.search).get("api");
    let api = meta || "";
    if (!meta && asked) {
      try {
        const u = new URL(asked, location.href);
        if (u.origin === location.origin || ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname))
          api = u.href;
      } catch {}
      if (!api) console.warn(`reflex: ignoring ?api=${asked}: only this origin or a loopback address`);
    }
    api = api.replace(/\/$/, "");
    // The same route console.js will draw (its parseRoute); anything else is left to it.
    let path;
    try {
      const [route] = location.hash.replace(/^#/, "").split("?");
      const parts = route.split("/").filter(Boolean);
      path =
        parts[0] === "runs" && parts[1]
          ? `/api/executions/${encodeURIComponent(decodeURIComponent(parts[1]))}`
          : !parts[0] || parts[0] === "runs"
            ? "/api/executions?limit=100"
            : undefined;
    } catch {
      path = undefined; // a malformed address: console.js says what is wrong with it
    }
    const early = {};
    let loadDagre = () => {};
    // The console's settings (is sign-in on?): auth.js waits on them before any view draws.
    const config = fetch(new URL("console-config.json", location.href), { cache: "no-store" });
    config.catch(() => {});
    window.reflexBoot = { api, early, config };
    // dagre lays out a run's graph: loaded beside the rest, awaited only by the run page's graph.
    window.reflexBoot.dagre = new Promise((loaded) => {
      loadDagre = () => {
        const script = Object.assign(document.createElement("script"), {
          src: "console/dagre.min.js",
          async: true,
        });
        script.onload = script.onerror = () => loaded();
        document.head.append(script);
      };
    });
    const askEarly = () => {
      const actor = (localStorage.getItem("reflex.actor") ?? "").trim();
      const headers = { accept: "application/json", ...(actor ? { "x-reflex-actor": actor } : {}) };
      // Who the person is (console.js asks it before drawing a page) goes out beside the page's
      // data, so the page does not wait for one answer before asking for the other.
      for (const p of path ? ["/api/whoami", path] : [])
        if (!inline.includes(p)) early[p] = { actor, response: fetch(`${api}${p}`, { headers }) };
      // An answer nobody takes (the person navigated away first) must not be an unhandled rejection.
      for (const e of Object.values(early)) e.response.catch(() => {});
    };
    if (!drawnAt || !document.querySelector('meta[name="reflex-inline"]')) {
      askEarly();
      loadDagre();
      return;
    }
    // A page the server drew is whole once parsed, and its first frame has gone out (below). The
    // modules' files are fetched now (their modulepreload links came inert, in a <template>), and
    // the modules take the page over (lib/api.js takes the inlined answers); the page's HTML has no
    // module script of its own.
    const preload = /** @type {HTMLTemplateElement | null} */ (document.getElementById("reflex-preload"));
    if (preload) document.head.append(preload.content);
    askEarly();
    loadDagre();
    document.body.append(
      Object.assign(document.createElement("script"), { type: "module", src: "console/console.js" }),
    );
  };
  // A page the server drew is whole once parsed, and this runs (deferred) once it is, which can be
  // before its first frame: nothing runs here until that frame has gone out. A trace showed this
  // file's work (the address, the settings' request, the modules' preloads) taking 18 ms of the
  // thread before the frame; then the first read of localStorage waits on the browser's own
  // process (tens of ms in a new tab), and dagre and the modules take the thread to compile and
  // run. A hidden tab makes no frames: it is not waited for.
  if (
    /^(.*?\/)runs(?:\/.*)?$/.test(location.pathname) &&
    document.querySelector('meta[name="reflex-inline"]') &&
    !document.hidden
  )
    requestAnimationFrame(() => setTimeout(boot));
  else boot();
})();
