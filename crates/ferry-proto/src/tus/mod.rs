//! tus 1.0.0: placeholder while the tus change is written.
