// Package safetext holds the small text rules that the token packages and
// the front ends share, so that each has one home: ASCII-only case folding
// (Unicode folding lets look-alikes such as the Kelvin sign pass for
// ASCII letters), and making untrusted or secret-bearing text safe to show
// in an error or a log.
package safetext
