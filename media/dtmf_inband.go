package media

import "math"

// In-band DTMF detection for peers that negotiated no RFC 4733
// telephone-event. The key frequencies are those of ITU-T Q.23, and the
// receiver limits below are the ITU-T Q.24 limits this package applies:
//
//   - A tone pair of 40 ms or more is a key press, and one under 23 ms is
//     not.
//   - A frequency error of up to 1.5% is accepted, and one of 3.5% or more
//     is rejected.
//   - Twist of up to 8 dB normal and 4 dB reverse is accepted. Normal twist
//     means the high-group tone is weaker than the low-group tone, reverse
//     twist means it is stronger.
//   - An interruption of 10 ms or less does not split a key press.
//
// Each analysis window holds the last windowSamples samples, Hann-weighted,
// and a new window starts every hopSamples samples. The Goertzel algorithm
// gives one complex DFT value per key frequency and window, and the phase
// advance of that value from one window to the next measures the tone's
// frequency error.

// Analysis window and timing, in samples at SampleRate.
const (
	// windowSamples is 20 ms. At a 50 Hz bin width the Hann window's
	// leakage from the nearest other low-group frequency (73 Hz away) is
	// about 14 dB down, which the neighbour check needs.
	windowSamples = 160
	// hopSamples is 5 ms. The phase advance over one hop measures
	// frequency errors up to ±100 Hz without ambiguity, more than 3.5% of
	// 1633 Hz (57 Hz).
	hopSamples = 40
	// pressHops is how many hops in a row must hold the same valid pair
	// before the key is reported. A 40 ms tone lies wholly inside four or
	// five windows, while a 23 ms tone covers no window wholly and windows
	// it covers only in part fail the energy-ratio check. Measured over
	// every alignment: 30 ms and longer is always reported, 23 ms never.
	pressHops = 4
	// releaseHops is how many hops in a row without the pair end a key
	// press. A 10 ms interruption overlaps at most six windows, and a
	// 50 ms pause overlaps thirteen. Measured: pauses from 40 ms always
	// split two presses, and pauses up to 30 ms never do.
	releaseHops = 9
)

// Tone validity thresholds.
const (
	// maxFrequencyError is the accepted relative frequency error, halfway
	// between the 1.5% that must be accepted and the 3.5% that must be
	// rejected.
	maxFrequencyError = 0.025
	// maxNormalTwistDB and maxReverseTwistDB are 1 dB above the 8 dB and
	// 4 dB that must be accepted, as a margin for the level estimate.
	maxNormalTwistDB  = 9
	maxReverseTwistDB = 5
	// minToneDBm0 is the weakest tone accepted, per tone.
	//
	// NOTE: -30 dBm0 is a chosen value. Q.24 lists sensitivity limits
	// that differ by administration, and this code applies none of them.
	minToneDBm0 = -30
	// minEnergyRatio is the share of the window's energy that the two
	// tones must carry. Speech and noise spread their energy over many
	// frequencies, and a window only partly filled by a tone scores lower
	// too, which keeps 23 ms tones short of pressHops.
	minEnergyRatio = 0.8
	// minNeighbourDB is how far every other frequency of a group must be
	// below the strongest one, which rejects chords and speech formants.
	minNeighbourDB = 6
	// zeroDBm0Amplitude is the peak of a 0 dBm0 sine in 16-bit samples,
	// 3.17 dB below the µ-law maximum of 32124 (G.711 puts the µ-law
	// overload point at +3.17 dBm0).
	zeroDBm0Amplitude = 22300
)

// Key frequencies of ITU-T Q.23 in Hz: four low-group (row) and four
// high-group (column) tones.
var (
	lowGroupHz  = [4]float64{697, 770, 852, 941}
	highGroupHz = [4]float64{1209, 1336, 1477, 1633}
)

// keypad maps a row and a column to its key.
var keypad = [4][4]Digit{
	{'1', '2', '3', 'A'},
	{'4', '5', '6', 'B'},
	{'7', '8', '9', 'C'},
	{'*', '0', '#', 'D'},
}

// toneCount is the number of key frequencies, low group first.
const toneCount = 8

// toneFilter holds the precomputed constants of one key frequency.
type toneFilter struct {
	hz float64
	// cos, sin and coefficient are cos ω, sin ω and 2 cos ω of the
	// Goertzel recursion, ω in radians per sample.
	cos, sin, coefficient float64
	// hopCos and hopSin rotate a DFT value back by the phase a tone at
	// exactly hz advances in one hop.
	hopCos, hopSin float64
}

// detectorTables are the constants every ToneDetector shares, built once
// when the package is loaded.
type detectorTables struct {
	filters [toneCount]toneFilter
	window  [windowSamples]float64
	// windowSum and windowSquareSum are Σw and Σw² of the Hann window.
	windowSum, windowSquareSum float64
	// minTonePower is |X|² of a tone at minToneDBm0, and minEnergy the
	// windowed energy of such a tone alone.
	minTonePower, minEnergy float64
	// The twist and neighbour limits as power ratios.
	minTwistRatio, maxTwistRatio, neighbourRatio float64
}

var toneTables = buildDetectorTables()

func buildDetectorTables() *detectorTables {
	t := &detectorTables{}
	for i := range t.window {
		t.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/windowSamples)
		t.windowSum += t.window[i]
		t.windowSquareSum += t.window[i] * t.window[i]
	}

	for i := range t.filters {
		hz := lowGroupHz[i%4]
		if i >= 4 {
			hz = highGroupHz[i-4]
		}
		omega := 2 * math.Pi * hz / SampleRate
		t.filters[i] = toneFilter{
			hz:          hz,
			cos:         math.Cos(omega),
			sin:         math.Sin(omega),
			coefficient: 2 * math.Cos(omega),
			hopCos:      math.Cos(omega * hopSamples),
			hopSin:      -math.Sin(omega * hopSamples),
		}
	}

	amplitude := zeroDBm0Amplitude * math.Pow(10, minToneDBm0/20.0)
	t.minTonePower = sinePower(amplitude, t.windowSum)
	t.minEnergy = amplitude * amplitude / 2 * t.windowSquareSum
	t.minTwistRatio = decibelsToRatio(-maxNormalTwistDB)
	t.maxTwistRatio = decibelsToRatio(maxReverseTwistDB)
	t.neighbourRatio = decibelsToRatio(-minNeighbourDB)
	return t
}

// sinePower returns |X|² of a sine of the given amplitude at the filter
// frequency: (A/2 · Σw)².
func sinePower(amplitude, windowSum float64) float64 {
	half := amplitude / 2 * windowSum
	return half * half
}

// ToneDetector finds DTMF key presses in 8 kHz 16-bit linear audio. The
// zero value is ready to use. Use one detector per received stream. A
// detector is not safe for concurrent use.
type ToneDetector struct {
	// samples holds the current window, filled up to filled.
	samples [windowSamples]int16
	filled  int
	// weighted is scratch space for the Hann-weighted window.
	weighted [windowSamples]float64

	// real and imag are each frequency's DFT value in the last window,
	// and previousValid records whether that window had enough energy to
	// measure phase from.
	real, imag    [toneCount]float64
	previousValid bool

	// key is the pair held in the current press, with hits counting the
	// hops in a row that held it, and misses the hops since it was last
	// seen. reported is set once the press has been returned.
	key      Digit
	hits     int
	misses   int
	reported bool
}

// NewToneDetector returns a ready detector, the same as the zero value.
func NewToneDetector() *ToneDetector {
	return &ToneDetector{}
}

// Reset clears the buffered audio and any key press in progress.
func (d *ToneDetector) Reset() {
	*d = ToneDetector{}
}

// Process feeds samples, of any length, and returns a key at the moment
// its press is recognised. Each key press is returned once. When one call
// completes two presses (only possible with several hundred milliseconds
// of samples), the first is returned and the second is lost. Process does
// not allocate.
func (d *ToneDetector) Process(samples []int16) (Digit, bool) {
	var found Digit
	ok := false
	for len(samples) > 0 {
		n := copy(d.samples[d.filled:], samples)
		d.filled += n
		samples = samples[n:]
		if d.filled < windowSamples {
			break
		}

		if key, pressed := d.advance(d.analyse()); pressed && !ok {
			found, ok = key, true
		}
		copy(d.samples[:], d.samples[hopSamples:])
		d.filled = windowSamples - hopSamples
	}
	return found, ok
}

// advance updates the press state with one window's key (0 for none) and
// returns the key when a new press is recognised.
func (d *ToneDetector) advance(key Digit) (Digit, bool) {
	switch {
	case key != 0 && key == d.key:
		d.hits++
		d.misses = 0
	case key != 0:
		d.key, d.hits, d.misses, d.reported = key, 1, 0, false
	default:
		d.misses++
		if d.misses >= releaseHops {
			d.key, d.hits, d.reported = 0, 0, false
		}
	}

	if d.key != 0 && !d.reported && d.hits >= pressHops {
		d.reported = true
		return d.key, true
	}
	return 0, false
}

// analyse returns the key whose tone pair fills the current window, or 0.
func (d *ToneDetector) analyse() Digit {
	tables := toneTables
	energy := d.weigh(tables)
	if energy < tables.minEnergy {
		d.previousValid = false
		return 0
	}

	var power [toneCount]float64
	var frequencyError [toneCount]float64
	var reals, imags [toneCount]float64
	goertzelGroup(&d.weighted, (*[4]toneFilter)(tables.filters[:4]), (*[4]float64)(reals[:4]), (*[4]float64)(imags[:4]))
	goertzelGroup(&d.weighted, (*[4]toneFilter)(tables.filters[4:]), (*[4]float64)(reals[4:]), (*[4]float64)(imags[4:]))
	for i := range tables.filters {
		real, imag := reals[i], imags[i]
		power[i] = real*real + imag*imag
		frequencyError[i] = d.phaseFrequencyError(i, real, imag)
		d.real[i], d.imag[i] = real, imag
	}
	measurable := d.previousValid
	d.previousValid = true
	if !measurable {
		return 0
	}

	row, lowPower, ok := strongestTone(power[:4], frequencyError[:4], tables)
	if !ok {
		return 0
	}
	column, highPower, ok := strongestTone(power[4:], frequencyError[4:], tables)
	if !ok {
		return 0
	}
	if !validTwist(lowPower, highPower, tables) || !dominates(lowPower+highPower, energy, tables) {
		return 0
	}
	return keypad[row][column]
}

// weigh applies the Hann window to the samples and returns the windowed
// energy Σ(w·x)².
func (d *ToneDetector) weigh(tables *detectorTables) float64 {
	energy := 0.0
	for i, sample := range d.samples {
		weighted := tables.window[i] * float64(sample)
		d.weighted[i] = weighted
		energy += weighted * weighted
	}
	return energy
}

// goertzelGroup stores the DFT value of the window at each of four filter
// frequencies, up to a phase factor that is the same for every window.
// The four recursions run in one loop, which lets the processor overlap
// them.
func goertzelGroup(samples *[windowSamples]float64, filters *[4]toneFilter, real, imag *[4]float64) {
	c0, c1, c2, c3 := filters[0].coefficient, filters[1].coefficient, filters[2].coefficient, filters[3].coefficient
	var p0, p1, p2, p3, b0, b1, b2, b3 float64
	for _, sample := range samples {
		p0, b0 = sample+c0*p0-b0, p0
		p1, b1 = sample+c1*p1-b1, p1
		p2, b2 = sample+c2*p2-b2, p2
		p3, b3 = sample+c3*p3-b3, p3
	}

	previous := [4]float64{p0, p1, p2, p3}
	beforePrevious := [4]float64{b0, b1, b2, b3}
	for i, f := range filters {
		real[i] = previous[i] - f.cos*beforePrevious[i]
		imag[i] = f.sin * beforePrevious[i]
	}
}

// phaseFrequencyError returns the relative frequency error of filter i:
// the phase the DFT value advanced since the last window, less the
// advance of a tone at exactly the filter frequency, over one hop.
func (d *ToneDetector) phaseFrequencyError(i int, real, imag float64) float64 {
	f := &toneTables.filters[i]

	// Multiply by the conjugate of the previous value, then rotate back by
	// the expected advance.
	deltaReal := real*d.real[i] + imag*d.imag[i]
	deltaImag := imag*d.real[i] - real*d.imag[i]
	rotatedReal := deltaReal*f.hopCos - deltaImag*f.hopSin
	rotatedImag := deltaReal*f.hopSin + deltaImag*f.hopCos

	offsetHz := math.Atan2(rotatedImag, rotatedReal) * SampleRate / (2 * math.Pi * hopSamples)
	return offsetHz / f.hz
}

// strongestTone picks the strongest frequency of one group and returns its
// index and its power corrected for the window's loss at its frequency
// error. ok is false when that tone is off frequency, too weak, or not
// clear of the group's other frequencies.
func strongestTone(power, frequencyError []float64, tables *detectorTables) (index int, corrected float64, ok bool) {
	for i := range power {
		if power[i] > power[index] {
			index = i
		}
	}

	relativeError := frequencyError[index]
	if math.Abs(relativeError) >= maxFrequencyError {
		return 0, 0, false
	}
	bins := relativeError * tables.filters[index].hz * windowSamples / SampleRate
	gain := hannGain(bins)
	corrected = power[index] / (gain * gain)
	if corrected < tables.minTonePower {
		return 0, 0, false
	}

	neighbourLimit := power[index] * tables.neighbourRatio
	for i := range power {
		if i != index && power[i] > neighbourLimit {
			return 0, 0, false
		}
	}
	return index, corrected, true
}

// hannGain returns the Hann window's amplitude response, relative to its
// peak, for a tone bins DFT bins away from the analysed frequency. It is
// valid inside the main lobe, |bins| < 2.
func hannGain(bins float64) float64 {
	if math.Abs(bins) < 1e-9 {
		return 1
	}
	x := math.Pi * bins
	return math.Sin(x) / x / (1 - bins*bins)
}

// validTwist reports whether the level difference of the two tones is
// within the normal and reverse twist limits.
func validTwist(lowPower, highPower float64, tables *detectorTables) bool {
	return highPower >= lowPower*tables.minTwistRatio && highPower <= lowPower*tables.maxTwistRatio
}

// dominates reports whether the two tones carry at least minEnergyRatio of
// the window's energy. A lone sine has |X|² = (A/2·Σw)² and energy
// A²/2·Σw², so the ratio below is 1 for a clean tone pair.
func dominates(tonePower, energy float64, tables *detectorTables) bool {
	ratio := 2 * tonePower * tables.windowSquareSum / (tables.windowSum * tables.windowSum * energy)
	return ratio >= minEnergyRatio
}

// decibelsToRatio converts a power level difference in dB to a ratio.
func decibelsToRatio(db float64) float64 {
	return math.Pow(10, db/10)
}
