package scan

import (
	"context"
	"fmt"
	"path"
)

// webshellFolders are the drop folders Microsoft's MSERT guidance names, as URLs
// (remote.md §7); webshellNames are the names seen in March 2021 (SCS-Labs
// HAFNIUM indicators). Later waves used random names, so an empty result is no
// all-clear: only `exsweep hunt` on the server can say that.
var webshellFolders = []string{"/aspnet_client/", "/aspnet_client/system_web/", "/owa/auth/", "/owa/auth/Current/", "/ecp/auth/"}

var webshellNames = []string{"web.aspx", "help.aspx", "document.aspx", "errorEE.aspx", "errorEEE.aspx", "errorEW.aspx",
	"errorFF.aspx", "healthcheck.aspx", "aspnet_www.aspx", "aspnet_client.aspx", "xx.aspx", "shell.aspx",
	"aspnet_iisstart.aspx", "one.aspx"}

// webshells GETs each known name in each drop folder, after a baseline request
// for a random name in the same folder: a folder that answers 200 to anything
// (or redirects everything to errorFE.aspx) must not produce findings. Nothing
// is ever sent to what is found: no parameters, no POST.
func (ss *session) webshells(ctx context.Context) {
	for _, dir := range webshellFolders {
		base, err := ss.get(ctx, dir+randomName()+".aspx", 64<<10)
		if err != nil {
			return
		}
		baseHash := sha256hex(base.body)
		for _, name := range webshellNames {
			if ctx.Err() != nil {
				return
			}
			p := dir + name
			r, err := ss.get(ctx, p, 256<<10)
			if err != nil {
				return
			}
			if r.status != 200 {
				continue
			}
			h := sha256hex(r.body)
			if base.status == 200 && h == baseHash {
				continue // the folder answers every name with the same page
			}
			reason := fmt.Sprintf("known web-shell name %s answered 200 (%d bytes) where a random name in %s answered %d",
				path.Base(p), len(r.body), dir, base.status)
			ss.rec.Webshells = append(ss.rec.Webshells, Webshell{Path: p, Status: r.status, Size: len(r.body), SHA256: h, Reason: reason})
			ss.rec.Evidence = append(ss.rec.Evidence, Evidence{Technique: TechWebshell, Path: p, Status: r.status, Value: h})
		}
	}
	if len(ss.rec.Webshells) > 0 && ss.rec.Verdict != VerdictVulnerable {
		// A planted shell outweighs any patch level: patching does not remove it.
		ss.rec.Reason = "web shell found; " + ss.rec.Reason
	}
}
