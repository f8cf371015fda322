/* Lays out a graph with dagre off the page's main thread (see graph_view.js: twg.draw). */
/* global dagre */
importScripts("/static/vendor/dagre/dagre.min.js");
self.window = self;
self.tw = { svg: () => null };
importScripts("/static/graph_view.js");
self.onmessage = (e) => {
  try { self.postMessage(self.twg.runDagre(e.data)); } catch (err) { self.postMessage({ error: String(err && err.message || err) }); }
};
