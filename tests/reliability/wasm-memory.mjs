// Imported before the Worker's build by entry.mjs (so it runs first): keeps the Memory of the
// Wasm instance the build made last (wasm-bindgen makes a new one after a panic), so the harness
// can read its size without the Worker itself exposing anything. Test-only: the deployed
// Worker runs worker.mjs, which never imports this.
export const wasm = { instances: 0, memory: null };

const keep = (instance) => {
  wasm.instances++;
  wasm.memory = Object.values(instance.exports).find((v) => v instanceof WebAssembly.Memory) ?? null;
  return instance;
};
const Instance = WebAssembly.Instance;
function Kept(module, imports) {
  return keep(new Instance(module, imports));
}
Kept.prototype = Instance.prototype;
WebAssembly.Instance = Kept;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (...args) => {
  const out = await instantiate(...args);
  keep(out instanceof Instance ? out : out.instance);
  return out;
};
