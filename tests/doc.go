// Package tests holds the end-to-end tests of shmfs: they build the
// binary, mount it in a temporary directory, drive it from other processes
// (sh, python3, C, Go) and always unmount.
package tests
