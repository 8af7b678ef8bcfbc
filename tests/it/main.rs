//! cdnctl's integration tests: the real binary against the local AWS emulator.
//! One test binary, so every test shares one build and one emulator.

mod certificate;
mod ci;
mod down;
mod emulator;
mod faults;
mod generate;
mod harness;
mod headers;
mod iam;
mod inspect;
mod packaging;
mod real_aws;
mod safety;
mod settings;
mod status;
mod sync;
mod up;
