//! cdnctl's integration tests: the real binary against the local AWS emulator.
//! One test binary, so every test shares one build and one emulator.

mod certificate;
mod down;
mod faults;
mod harness;
mod inspect;
mod settings;
mod status;
mod sync;
mod up;
