//! Integration tests: run the real `vault` binary against real repositories.
