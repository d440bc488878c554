//! The web layer: routes in process, and pages in real headless Chromium.

mod alerts;
mod batching;
mod browser;
mod common;
mod contract;
mod email;
mod foryou;
mod readers;
mod routes;
