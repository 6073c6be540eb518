// Package switchboard holds the domain of the Switchboard control plane:
// its types, the service interfaces the adapters implement, the Error type
// with its codes, ids and tokens. It imports only the standard library;
// postgres/, fly/, blob/ implement it and services/, workers/, cdn/ use it.
package switchboard
