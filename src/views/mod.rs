//! Projections: the per-country and inter-regional views (domain.md, "Views").
//!
//! - [`change`]: what one recorded event changes (the one decision of writer and folder);
//! - [`state`]: the folded counters, dense by country and region, updated by the writer in the
//!   same atomic batch as the records they fold;
//! - [`model`]: the views' own JSON types, built from the state on read;
//! - [`stored`]: the stored form of the state;
//! - [`digest`]: the digest kept with the stored views;
//! - [`fold`]: folding from scratch, for rebuilds and "as of" queries;
//! - [`index`]: dense numbering of countries and regions;
//! - [`timeline`]: the programme per year or quarter, in one fold, and [`entities`]: the
//!   meetings, activities and cases as they stand, for listings.

pub mod change;
pub mod digest;
pub mod entities;
pub mod fold;
pub mod index;
pub mod model;
pub mod state;
pub mod stored;
pub mod timeline;

pub use model::{CountryView, InterRegionalView};
pub use state::ViewState;
