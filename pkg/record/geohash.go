package record

import (
	"errors"
	"fmt"
	"math"
)

// GeohashPrecision is the number of geohash characters written in a record's
// "g" tag: 9 characters locate a point within about 5 metres.
const GeohashPrecision = 9

const geohashAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz"

// ErrInvalidGeo is wrapped when a location is out of range or inconsistent.
var ErrInvalidGeo = errors.New("invalid geolocation: want finite lat in [-90, 90] and lon in [-180, 180]")

// Geo is a point on Earth in decimal degrees (WGS 84).
type Geo struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Check returns an error wrapping ErrInvalidGeo if the point is out of range.
func (g Geo) Check() error {
	if math.IsNaN(g.Lat) || math.IsNaN(g.Lon) || g.Lat < -90 || g.Lat > 90 || g.Lon < -180 || g.Lon > 180 {
		return fmt.Errorf("%w (got lat %v, lon %v)", ErrInvalidGeo, g.Lat, g.Lon)
	}
	return nil
}

// Geohash encodes the point with the given number of characters (1..12).
func Geohash(g Geo, precision int) string {
	precision = max(1, min(precision, 12))
	latLo, latHi := -90.0, 90.0
	lonLo, lonHi := -180.0, 180.0
	out := make([]byte, 0, precision)
	even := true
	bit, ch := 0, 0
	for len(out) < precision {
		if even {
			mid := (lonLo + lonHi) / 2
			if g.Lon >= mid {
				ch = ch<<1 | 1
				lonLo = mid
			} else {
				ch <<= 1
				lonHi = mid
			}
		} else {
			mid := (latLo + latHi) / 2
			if g.Lat >= mid {
				ch = ch<<1 | 1
				latLo = mid
			} else {
				ch <<= 1
				latHi = mid
			}
		}
		even = !even
		if bit++; bit == 5 {
			out = append(out, geohashAlphabet[ch])
			bit, ch = 0, 0
		}
	}
	return string(out)
}
