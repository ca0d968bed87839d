// What `@signalwire/js`'s bundle (dist/browser.mjs) imports from "node:crypto", made from
// the browser's Web Crypto. The bundle carries the Node build of its `uuid` dependency,
// which asks for these two functions; a browser has no "node:crypto", so the page's
// import map points that name here. (The UMD bundle reads the same two from a global
// `node_crypto` instead, and throws at load when there is none.)

// Only in secure contexts (https, or a loopback address): `uuid` falls back to
// `randomFillSync` when this is undefined.
export const randomUUID = typeof globalThis.crypto?.randomUUID === 'function'
  ? () => globalThis.crypto.randomUUID()
  : undefined;

// Node's version also takes an offset and a size; `uuid` passes the whole array.
export function randomFillSync(array) {
  return globalThis.crypto.getRandomValues(array);
}
