package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/exsweep/exsweep/internal/store"
)

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return t.UTC().Format("2006-01-02 15:04")
		},
		"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"path": url.PathEscape,
		"add":  func(a, b int) int { return a + b },
	}
	base, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "overview", "cases", "case", "orgs", "org", "endpoint", "scans", "error"} {
		t, err := template.Must(base.Clone()).ParseFS(assets, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render executes a page into a buffer first, so a template error becomes
// a 500 instead of half a page. data is a map; the layout fields are added.
func (s *Server) render(w http.ResponseWriter, r *http.Request, page string, status int, data map[string]any) {
	s.renderTemplate(w, r, page, "layout", status, data)
}

func (s *Server) renderTemplate(w http.ResponseWriter, r *http.Request, page, tmpl string, status int, data map[string]any) {
	p := principalOf(r)
	data["Page"] = page
	data["ReadOnly"] = p.readOnly
	data["LoggedIn"] = p.sess != nil
	if p.sess != nil {
		data["CSRF"] = p.sess.csrf
		// hx-headers is a JSON attribute value; html/template escapes it
		// as an attribute, and the token is base64url anyway.
		data["HXHeaders"] = `{"X-CSRF-Token":"` + p.sess.csrf + `"}`
	}
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, tmpl, data); err != nil {
		s.log.Error("web: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.log.Error("web: request", "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if isAPI(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	s.render(w, r, "error", code, map[string]any{"Error": msg, "Code": code})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	// encoding/json escapes <, > and & in strings, so a hostile value
	// stays inert even if a client pastes it into HTML.
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

// ---- pages ----

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	curve, err := s.curve(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := map[string]any{"Curve": curve}
	if len(curve) > 0 {
		last := curve[len(curve)-1]
		data["Last"] = last
		if data["Breakdown"], err = s.st.ProductBreakdown(ctx, last.RunID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if data["Countries"], data["Networks"], err = s.caseGroups(ctx); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "overview", http.StatusOK, data)
}

// topGroups bounds the country and network tables of the overview.
const topGroups = 20

// caseGroups counts the active cases by country and by network.
func (s *Server) caseGroups(ctx context.Context) (countries, networks []store.CaseGroup, err error) {
	if countries, err = s.st.ActiveCasesBy(ctx, "country", topGroups); err != nil {
		return nil, nil, err
	}
	networks, err = s.st.ActiveCasesBy(ctx, "asn", topGroups)
	return countries, networks, err
}

func (s *Server) casesData(r *http.Request, q caseQuery) (map[string]any, error) {
	cases, next, err := s.listCases(r.Context(), q)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Cases": cases, "Q": q, "Next": next, "States": caseStates,
		"Prev": q.Page > 1, "NextQuery": q.Values(q.Page + 1), "PrevQuery": q.Values(q.Page - 1)}, nil
}

func (s *Server) casesPage(w http.ResponseWriter, r *http.Request) {
	q := s.parseCaseQuery(r.URL.Query())
	data, err := s.casesData(r, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// htmx asks for the table only (filter change, paging).
	if r.Header.Get("HX-Request") == "true" {
		s.renderTemplate(w, r, "cases", "cases-table", http.StatusOK, data)
		return
	}
	s.render(w, r, "cases", http.StatusOK, data)
}

func (s *Server) bulkPage(w http.ResponseWriter, r *http.Request) {
	// htmx sends the CSRF token as a header, so nothing has parsed the
	// form yet.
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, fmt.Errorf("%w: form: %v", store.ErrInvalid, err))
		return
	}
	ids, err := parseIDs(r.PostForm["id"])
	if err == nil {
		err = s.bulk(r.Context(), r.PostFormValue("action"), ids, r.PostFormValue("reason"), "dashboard")
	}
	q := s.parseCaseQuery(r.PostForm)
	data, lerr := s.casesData(r, q)
	if lerr != nil {
		s.fail(w, r, lerr)
		return
	}
	code := http.StatusOK
	if err != nil {
		code = statusOf(err)
		data["Flash"] = err.Error()
	} else {
		data["Flash"] = fmt.Sprintf("%d case(s): %s", len(ids), r.PostFormValue("action"))
	}
	if r.Header.Get("HX-Request") == "true" {
		if code != http.StatusOK {
			// htmx does not swap error responses by default; this one is
			// meant to be shown.
			w.Header().Set("HX-Reswap", "outerHTML")
		}
		s.renderTemplate(w, r, "cases", "cases-table", http.StatusOK, data)
		return
	}
	if err != nil {
		s.render(w, r, "cases", code, data)
		return
	}
	http.Redirect(w, r, "/cases?"+q.Values(q.Page), http.StatusSeeOther)
}

func (s *Server) caseDetail(r *http.Request) (map[string]any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: case id", store.ErrInvalid)
	}
	ctx := r.Context()
	c, err := s.st.GetCase(ctx, id)
	if err != nil {
		return nil, err
	}
	hist, err := s.st.CaseHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	msgs, err := s.st.Messages(ctx, store.MessageFilter{CaseID: id, Limit: 50})
	if err != nil {
		return nil, err
	}
	return map[string]any{"Case": c, "History": hist, "Messages": msgs}, nil
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	data, err := s.caseDetail(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "case", http.StatusOK, data)
}

// orgList is one page of organisations (the store returns them all; a
// constituency has thousands at most).
func (s *Server) orgList(r *http.Request) ([]store.Organisation, int, bool, error) {
	orgs, err := s.st.Organisations(r.Context())
	if err != nil {
		return nil, 0, false, err
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	from := min((page-1)*s.opts.PageSize, len(orgs))
	to := min(from+s.opts.PageSize, len(orgs))
	return orgs[from:to], page, to < len(orgs), nil
}

func (s *Server) orgsPage(w http.ResponseWriter, r *http.Request) {
	orgs, page, next, err := s.orgList(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "orgs", http.StatusOK, map[string]any{"Orgs": orgs, "PageNo": page, "Next": next, "Prev": page > 1})
}

// caseWithHistory is a case and its history, for the organisation page.
type caseWithHistory struct {
	store.Case
	History []store.CaseEvent `json:"history"`
}

func (s *Server) orgDetail(r *http.Request) (map[string]any, error) {
	ctx := r.Context()
	key := r.PathValue("key")
	org, err := s.st.GetOrganisation(ctx, key)
	if err != nil {
		return nil, err
	}
	q := s.parseCaseQuery(r.URL.Query())
	q.Org = org.Key
	cases, next, err := s.listCases(ctx, q)
	if err != nil {
		return nil, err
	}
	// One indexed query per case of the page (at most PageSize).
	withHist := make([]caseWithHistory, len(cases))
	for i, c := range cases {
		h, err := s.st.CaseHistory(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		withHist[i] = caseWithHistory{Case: c, History: h}
	}
	msgs, err := s.st.Messages(ctx, store.MessageFilter{OrgKey: org.Key, Limit: 100})
	if err != nil {
		return nil, err
	}
	return map[string]any{"Org": org, "Cases": withHist, "Messages": msgs, "Q": q, "Next": next,
		"Prev": q.Page > 1, "NextPage": q.Page + 1, "PrevPage": q.Page - 1}, nil
}

func (s *Server) orgPage(w http.ResponseWriter, r *http.Request) {
	data, err := s.orgDetail(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "org", http.StatusOK, data)
}

func (s *Server) endpointPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.endpoint(r.Context(), r.PathValue("ep"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "endpoint", http.StatusOK, map[string]any{"Endpoint": v.Endpoint.String(), "Observations": v.Observations,
		"Cases": v.Cases, "Hunts": v.Hunts})
}

// ---- JSON API ----

func (s *Server) apiCurve(w http.ResponseWriter, r *http.Request) {
	curve, err := s.curve(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": curve})
}

func (s *Server) apiBreakdown(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	runID, _ := strconv.ParseInt(r.URL.Query().Get("run"), 10, 64)
	if runID == 0 {
		runs, err := s.st.RunCurves(ctx, 1)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(runs) > 0 {
			runID = runs[0].RunID
		}
	}
	pb := []store.ProductCount{}
	if runID != 0 {
		var err error
		if pb, err = s.st.ProductBreakdown(ctx, runID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	countries, networks, err := s.caseGroups(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"run_id": runID, "products": pb,
		"active_cases_by_country": countries, "active_cases_by_as": networks})
}

func (s *Server) apiCases(w http.ResponseWriter, r *http.Request) {
	q := s.parseCaseQuery(r.URL.Query())
	cases, next, err := s.listCases(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cases == nil {
		cases = []store.Case{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": cases, "page": q.Page, "per_page": q.PerPage, "next": next})
}

func (s *Server) apiCase(w http.ResponseWriter, r *http.Request) {
	data, err := s.caseDetail(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"case": data["Case"], "history": data["History"], "messages": data["Messages"]})
}

func (s *Server) apiBulk(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Action string  `json:"action"`
		IDs    []int64 `json:"ids"`
		Reason string  `json:"reason"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, r, fmt.Errorf("%w: request body: %v", store.ErrInvalid, err))
		return
	}
	if err := s.bulk(r.Context(), req.Action, req.IDs, req.Reason, "api"); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"changed": len(req.IDs)})
}

func (s *Server) apiOrgs(w http.ResponseWriter, r *http.Request) {
	orgs, page, next, err := s.orgList(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"organisations": orgs, "page": page, "next": next})
}

func (s *Server) apiOrg(w http.ResponseWriter, r *http.Request) {
	data, err := s.orgDetail(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"organisation": data["Org"], "cases": data["Cases"],
		"messages": data["Messages"], "next": data["Next"]})
}

func (s *Server) apiEndpoint(w http.ResponseWriter, r *http.Request) {
	v, err := s.endpoint(r.Context(), r.PathValue("ep"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hunts := make([]store.HuntReport, len(v.Hunts))
	for i, h := range v.Hunts {
		hunts[i] = h.HuntReport
	}
	writeJSON(w, http.StatusOK, map[string]any{"endpoint": v.Endpoint.String(), "observations": v.Observations,
		"cases": v.Cases, "hunt_reports": hunts})
}
