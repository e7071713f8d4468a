// Package arch holds no code: its test checks the import rules of the code
// layout in DESIGN.md (each folder one responsibility) on every package of
// the module.
package arch
