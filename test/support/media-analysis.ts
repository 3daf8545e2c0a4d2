/** The pure media analysis lives with the probes in bench/support, shared by tests and benchmarks. */
export * from '../../bench/support/media-analysis';
