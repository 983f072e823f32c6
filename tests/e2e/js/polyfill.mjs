// Node 20 (this machine's) lacks Promise.withResolvers (Node 22+), which matrix-js-sdk's
// scheduler uses. Imported before the SDK so its modules see it.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
