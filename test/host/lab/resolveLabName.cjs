// Preloaded (node --require) into the claude-bus CLI the host test runs: LAB_FQDN resolves to this
// machine's loopback, where the lab's nginx listens, as ~/.curlrc's `resolve` lines do for curl.
const dns = require("node:dns");
const name = process.env.LAB_FQDN;
const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (hostname !== name) return lookup.apply(this, arguments);
  if (typeof options === "function") [callback, options] = [options, {}];
  const all = typeof options === "object" && options !== null && options.all;
  process.nextTick(() => (all ? callback(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4)));
};
