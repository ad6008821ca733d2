// Imported before the Worker's build by entry.mjs (so it runs first): keeps every Wasm Memory
// the build instantiates, so the harness can read its size without the Worker itself exposing
// anything. Test-only: the deployed Worker runs worker.mjs, which never imports this.
export const memories = [];

const keep = (instance) => {
  for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.push(value);
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
