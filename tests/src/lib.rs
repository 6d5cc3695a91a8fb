//! Helpers shared by the black-box tests: where the built binaries, the corpus and
//! the Python tools live.
