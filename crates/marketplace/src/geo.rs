//! Distance search: the method is a bounding box, then the great-circle
//! distance.
//!
//! A radius around a point fits in a latitude band of ±radius ÷ 111.2 km
//! and a longitude band widened by 1 ÷ cos(latitude). The store asks the
//! database for products inside that box (the `(latitude, longitude)`
//! index narrows the scan to the latitude band), then the exact haversine
//! distance on a sphere of radius 6,371 km keeps those within the radius.
//! A box that would cross a pole or the ±180° meridian is clamped: points
//! across the antimeridian are not found.

const EARTH_RADIUS_KM: f64 = 6_371.0;
const KM_PER_DEGREE: f64 = 111.195;

/// A point, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

/// `[min_lat, max_lat] × [min_lng, max_lng]`, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_latitude: f64,
    pub max_latitude: f64,
    pub min_longitude: f64,
    pub max_longitude: f64,
}

/// The box that holds every point within `radius_km` of `center`.
pub fn bounding_box(center: Point, radius_km: f64) -> BoundingBox {
    let dlat = radius_km / KM_PER_DEGREE;
    let min_latitude = (center.latitude - dlat).max(-90.0);
    let max_latitude = (center.latitude + dlat).min(90.0);
    // The widest longitude span is at the box's latitude nearest a pole.
    let widest = min_latitude.abs().max(max_latitude.abs());
    let cos = widest.to_radians().cos();
    let (min_longitude, max_longitude) = if cos < 1e-6 || radius_km / (KM_PER_DEGREE * cos) >= 180.0
    {
        (-180.0, 180.0)
    } else {
        let dlng = radius_km / (KM_PER_DEGREE * cos);
        (
            (center.longitude - dlng).max(-180.0),
            (center.longitude + dlng).min(180.0),
        )
    };
    BoundingBox {
        min_latitude,
        max_latitude,
        min_longitude,
        max_longitude,
    }
}

/// The great-circle distance between two points, in kilometres.
pub fn distance_km(a: Point, b: Point) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlng = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAGOS: Point = Point {
        latitude: 6.5244,
        longitude: 3.3792,
    };
    const IBADAN: Point = Point {
        latitude: 7.3775,
        longitude: 3.9470,
    };
    const ABUJA: Point = Point {
        latitude: 9.0765,
        longitude: 7.3986,
    };

    #[test]
    fn distances_match_known_figures() {
        let d = distance_km(LAGOS, IBADAN);
        assert!((d - 113.0).abs() < 3.0, "{d}");
        let d = distance_km(LAGOS, ABUJA);
        assert!((d - 525.0).abs() < 10.0, "{d}");
        assert_eq!(distance_km(LAGOS, LAGOS), 0.0);
    }

    #[test]
    fn the_box_holds_every_point_of_the_circle() {
        for center in [
            LAGOS,
            Point {
                latitude: 60.0,
                longitude: 10.0,
            },
        ] {
            let b = bounding_box(center, 150.0);
            for step in 0..360 {
                // A point just inside the circle, in every direction.
                let bearing = f64::from(step).to_radians();
                let d = 149.9 / EARTH_RADIUS_KM;
                let lat1 = center.latitude.to_radians();
                let lat2 = (lat1.sin() * d.cos() + lat1.cos() * d.sin() * bearing.cos()).asin();
                let lng2 = center.longitude.to_radians()
                    + (bearing.sin() * d.sin() * lat1.cos())
                        .atan2(d.cos() - lat1.sin() * lat2.sin());
                let (lat, lng) = (lat2.to_degrees(), lng2.to_degrees());
                assert!(
                    (b.min_latitude..=b.max_latitude).contains(&lat)
                        && (b.min_longitude..=b.max_longitude).contains(&lng),
                    "{lat},{lng} outside {b:?}"
                );
            }
        }
    }

    #[test]
    fn near_a_pole_the_box_spans_every_longitude() {
        let b = bounding_box(
            Point {
                latitude: 89.9,
                longitude: 0.0,
            },
            50.0,
        );
        assert_eq!((b.min_longitude, b.max_longitude), (-180.0, 180.0));
        assert_eq!(b.max_latitude, 90.0);
    }
}
