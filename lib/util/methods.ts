// Adds methods to a class from a file of a layer above it (docs/architecture.md): the class's own
// file does not import that layer, the layer's file adds to the class, as sharp's operation files
// do. Non-enumerable and writable, like the methods a class declares.
export function addMethods(proto: object, methods: object): void {
  for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(methods))) {
    Object.defineProperty(proto, name, { value: d.value, writable: true, configurable: true, enumerable: false });
  }
}
