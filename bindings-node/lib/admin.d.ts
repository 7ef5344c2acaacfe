// `require('rtio/admin-ui')`: the `@socket.io/admin-ui` dashboard's `instrument`, also
// exported by `rtio` itself (see index.d.ts).
export { instrument, InMemoryStore, AdminUiOptions, AdminUiBasicAuthentication, AdminUiStore } from '../index';
