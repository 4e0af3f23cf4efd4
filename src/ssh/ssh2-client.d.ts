// ssh2 ships no types: its client module (src/ssh/client.ts) is used untyped.
declare module 'ssh2/lib/client.js' {
  const Client: new () => any;
  export default Client;
}
