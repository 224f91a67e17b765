//! The arcway lab: a small world in network namespaces for tests, the demo and the benchmarks.
