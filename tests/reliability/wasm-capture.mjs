// Imported before the Worker's module (tests/reliability/relay-worker.mjs): keeps the memory
// of every WebAssembly instance made in this isolate, so the relay can report its size.
export const memories = [];
const Original = WebAssembly.Instance;
class Capturing extends Original {
  constructor(module, imports) {
    super(module, imports);
    if (this.exports.memory instanceof WebAssembly.Memory) memories.push(this.exports.memory);
  }
}
WebAssembly.Instance = Capturing;
