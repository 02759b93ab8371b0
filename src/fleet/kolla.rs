//! The kolla image check: the series a kolla image's service version belongs to
//! ([`super::place`], exactly) against the series its tag claims.
//!
//! The result is recorded on the image ([`KollaImage::mismatch`] with a [`KollaImage::note`]),
//! not as a problem: nothing failed to be read.
//!
//! Rules:
//! - mismatch: the tag series (by name or release id) differs from the series the catalog gives
//!   for the service's version. For `master` tags only an exact release of a series other than
//!   the one in development counts (a master build carries `.devN` versions based on the last
//!   release, which belongs to the previous series).

use crate::model::KollaImage;
use crate::releases::openstack::{OpenStackCatalog, SeriesStatus};

/// Judge a kolla image's facts (tag series, service version, as the image collector records
/// them) against openstack/releases: fills `series`, `exact`, `mismatch` and `note`.
pub fn check_kolla(k: &mut KollaImage, cat: &OpenStackCatalog) {
    let (Some(pkg), Some(ver)) = (k.package.clone(), k.version.clone()) else {
        if k.tag_series.is_some() {
            k.note =
                Some("no OpenStack service found in the image to check the tag against".to_owned());
        }
        return;
    };
    let Some(m) = super::place(cat, &pkg, &ver) else {
        k.note = Some(format!(
            "{pkg} {ver} is not a release (or a build of one) in the catalog"
        ));
        return;
    };
    k.series = Some(m.series.clone());
    k.exact = Some(m.exact);
    let Some(tag) = k.tag_series.clone() else {
        return;
    };
    if tag == "master" {
        let dev = cat
            .series()
            .iter()
            .find(|s| s.status == SeriesStatus::Development);
        if let Some(dev) = dev {
            if m.exact && m.series != dev.name {
                k.mismatch = true;
                k.note = Some(format!(
                    "tag `master` ({} in development), but {pkg} {ver} is a {} release",
                    dev.name, m.series
                ));
            }
        }
        return;
    }
    match cat.series_named(&tag) {
        Some(s) if s.name == m.series => {}
        Some(s) => {
            k.mismatch = true;
            k.note = Some(format!(
                "tag says {tag} ({}), but {pkg} {ver} is {} {}",
                s.name,
                if m.exact {
                    "a release of"
                } else {
                    "a build in"
                },
                m.series
            ));
        }
        None => {
            k.note = Some(format!("tag series `{tag}` is not a series of the catalog"));
        }
    }
}
