//! Placeholder: filled in by its own issue.
#![no_std]
