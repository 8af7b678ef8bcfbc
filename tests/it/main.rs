//! cdnctl's integration tests: the real binary against the local AWS emulator.
//! One test binary, so every test shares one build and one emulator.

mod adopt;
mod browser;
mod certificate;
mod check;
mod ci;
mod consistency;
mod cors;
mod deploy;
mod docs;
mod down;
mod emulator;
mod env_file;
mod faults;
mod generate;
mod harness;
mod headers;
mod health;
mod hints;
mod iam;
mod inspect;
mod output;
mod packaging;
mod profile;
mod real_aws;
mod removals;
mod safety;
mod settings;
mod snapshots;
mod status;
mod sync;
mod sync_deploys;
mod sync_publish;
mod sync_safety;
mod sync_scope;
mod up;
