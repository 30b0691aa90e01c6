package web

import (
	"errors"
	"net/http"
	"slices"
	"time"
)

// Rescanner runs re-scans of the endpoints of open cases for the Scans page
// (exsweep serve wires the same code as `exsweep rescan`). The dashboard
// only starts one and shows its state; the scan itself, its rate limits and
// the case changes are the rescanner's.
type Rescanner interface {
	// Start begins a re-scan in the background; ErrRescanRunning if one
	// is already running.
	Start() error
	// Status is the current or last re-scan.
	Status() RescanStatus
}

// ErrRescanRunning: a re-scan is already running.
var ErrRescanRunning = errors.New("a re-scan is already running")

// RescanStatus is what the Scans page shows of the current or last re-scan.
type RescanStatus struct {
	Running  bool      `json:"running"`
	Started  time.Time `json:"started,omitzero"`  // zero: none since the start of the server
	Finished time.Time `json:"finished,omitzero"` // zero while running
	// Endpoints is how many endpoints it scans (0 until known).
	Endpoints int `json:"endpoints"`
	// RunID is the scan run it stored (0 until created).
	RunID int64 `json:"run_id,omitzero"`
	// Summary says what it did ("3 cases remediated (verified), ..."), or
	// why it failed (Error set).
	Summary string `json:"summary,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (s *Server) rescanStatus() *RescanStatus {
	if s.opts.Rescan == nil {
		return nil
	}
	st := s.opts.Rescan.Status()
	return &st
}

func (s *Server) scansData(r *http.Request) (map[string]any, error) {
	curve, err := s.curve(r.Context())
	if err != nil {
		return nil, err
	}
	slices.Reverse(curve) // newest first
	return map[string]any{"Runs": curve, "Rescan": s.rescanStatus(), "CanRescan": s.opts.Rescan != nil}, nil
}

func (s *Server) scansPage(w http.ResponseWriter, r *http.Request) {
	data, err := s.scansData(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "scans", http.StatusOK, data)
}

// startRescan is POST /scans/rescan (form) and POST /api/scans/rescan.
func (s *Server) startRescan(w http.ResponseWriter, r *http.Request) {
	code, msg := http.StatusAccepted, "re-scan of the open cases started"
	switch err := s.rescanStart(); {
	case errors.Is(err, errNoRescanner):
		code, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, ErrRescanRunning):
		code, msg = http.StatusConflict, err.Error()
	case err != nil:
		s.log.Error("web: starting a re-scan", "err", err)
		code, msg = http.StatusInternalServerError, "the re-scan could not be started: "+err.Error()
	}
	if isAPI(r) {
		writeJSON(w, code, map[string]any{"message": msg, "rescan": s.rescanStatus()})
		return
	}
	data, err := s.scansData(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data["Flash"] = msg
	s.render(w, r, "scans", code, data)
}

var errNoRescanner = errors.New("this dashboard cannot start re-scans (exsweep serve --no-rescan)")

func (s *Server) rescanStart() error {
	if s.opts.Rescan == nil {
		return errNoRescanner
	}
	return s.opts.Rescan.Start()
}

// apiRescan is GET /api/scans/rescan: the current or last re-scan.
func (s *Server) apiRescan(w http.ResponseWriter, r *http.Request) {
	st := s.rescanStatus()
	if st == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": errNoRescanner.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rescan": st})
}
