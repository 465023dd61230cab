package redis

// CASScript is the compare-and-swap script, for the benchmark's raw floor.
var CASScript = casScript
