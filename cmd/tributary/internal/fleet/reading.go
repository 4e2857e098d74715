package fleet

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Reading is the JSON payload of one simulated measurement.
type Reading struct {
	// DeviceID names the device, e.g. "bldg1-f2-r203-s007".
	DeviceID string `json:"device_id"`
	// Floor and Room locate the device; they repeat what the topic says.
	Floor int `json:"floor"`
	Room  int `json:"room"`
	// Metric is temperature, humidity or co2.
	Metric string `json:"metric"`
	// TS is the measurement time in Unix milliseconds.
	TS int64 `json:"ts"`
	// Value is the measurement in Unit, rounded to two decimals.
	Value float64 `json:"value"`
	// Unit is "celsius", "percent" or "ppm".
	Unit string `json:"unit"`
	// Battery is the remaining charge in percent, slowly falling.
	Battery float64 `json:"battery"`
	// RSSI is the radio signal strength in dBm.
	RSSI int `json:"rssi"`
	// Seq counts the device's messages from 0.
	Seq uint64 `json:"seq"`
	// Firmware is the device's firmware version.
	Firmware string `json:"fw"`
}

// metric describes how one quantity moves: a bounded random walk.
type metric struct {
	name     string
	unit     string
	min, max float64
	start    float64 // centre of the starting range
	spread   float64 // starting values are start ± spread
	step     float64 // largest change per reading
}

var metrics = [...]metric{
	{name: "temperature", unit: "celsius", min: 15, max: 30, start: 21.5, spread: 1.5, step: 0.15},
	{name: "humidity", unit: "percent", min: 20, max: 70, start: 42, spread: 6, step: 0.6},
	{name: "co2", unit: "ppm", min: 380, max: 2000, start: 620, spread: 120, step: 25},
}

// sensor is one simulated device. Not safe for concurrent use; the Fleet's publishing loop
// owns all sensors.
type sensor struct {
	id       string
	floor    int
	room     int
	firmware string
	battery  float64
	rssi     int
	values   [len(metrics)]float64
	seq      uint64
}

// newSensor places device i: floors take turns, rooms fill up eight per floor.
func newSensor(i int, rng *rand.Rand) *sensor {
	floor := i%3 + 1
	room := floor*100 + (i/3)%8 + 1
	s := &sensor{
		id:       fmt.Sprintf("s%03d", i),
		floor:    floor,
		room:     room,
		firmware: [...]string{"2.3.1", "2.3.1", "2.4.0"}[i%3],
		battery:  70 + rng.Float64()*30,
		rssi:     -45 - rng.IntN(40),
	}
	for k, m := range metrics {
		s.values[k] = m.start + (rng.Float64()*2-1)*m.spread
	}
	return s
}

// topic is the MQTT topic of the sensor's next reading of metric k.
func (s *sensor) topic(k int) string {
	return fmt.Sprintf("building/floor%d/room%d/sensor/%s/%s", s.floor, s.room, s.id, metrics[k].name)
}

// next advances metric k one random-walk step and returns the reading, stamped tsMillis.
func (s *sensor) next(k int, tsMillis int64, rng *rand.Rand) Reading {
	m := metrics[k]
	v := s.values[k] + (rng.Float64()*2-1)*m.step
	// Reflect at the bounds so a long run stays plausible.
	if v < m.min {
		v = 2*m.min - v
	}
	if v > m.max {
		v = 2*m.max - v
	}
	s.values[k] = v
	s.battery = math.Max(0, s.battery-0.001)
	s.rssi = min(-30, max(-95, s.rssi+rng.IntN(5)-2))
	r := Reading{
		DeviceID: fmt.Sprintf("bldg1-f%d-r%d-%s", s.floor, s.room, s.id),
		Floor:    s.floor,
		Room:     s.room,
		Metric:   m.name,
		TS:       tsMillis,
		Value:    round2(v),
		Unit:     m.unit,
		Battery:  round2(s.battery),
		RSSI:     s.rssi,
		Seq:      s.seq,
		Firmware: s.firmware,
	}
	s.seq++
	return r
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
