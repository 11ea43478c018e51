package azuresim

import (
	"net/http"
	"strings"
	"time"
)

// ciJob is a running CI job that may ask for ID tokens.
type ciJob struct {
	host         string // GitHubTokenHost or PipelinesHost
	subject      string
	connectionID string // Azure Pipelines service connection
}

// AddGitHubJob makes requestToken (ACTIONS_ID_TOKEN_REQUEST_TOKEN) valid
// for a job whose ID tokens have subject, e.g.
// "repo:octo/app:ref:refs/heads/main". It returns the
// ACTIONS_ID_TOKEN_REQUEST_URL to use.
func (s *Sim) AddGitHubJob(requestToken, subject string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ciJobs[requestToken] = ciJob{host: GitHubTokenHost, subject: subject}
	return "https://" + GitHubTokenHost + "/azuresim/_apis/distributedtask/hubs/Actions/plans/1/jobs/1/idtoken?api-version=2.0"
}

// AddPipelinesJob makes accessToken (SYSTEM_ACCESSTOKEN) valid for a job
// that may ask for ID tokens of service connection connectionID, whose
// subject is, e.g., "sc://org/project/connection". It returns the
// SYSTEM_OIDCREQUESTURI to use.
func (s *Sim) AddPipelinesJob(accessToken, connectionID, subject string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ciJobs[accessToken] = ciJob{host: PipelinesHost, subject: subject, connectionID: connectionID}
	return "https://" + PipelinesHost + "/azuresim/project/_apis/distributedtask/hubs/build/plans/1/jobs/1/oidctoken"
}

// serveCI answers the CI services' ID token requests.
func (s *Sim) serveCI(w http.ResponseWriter, r *http.Request, host string) {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	job, known := s.ciJobs[bearer]
	s.mu.Unlock()
	if !ok || !known || job.host != host {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "azuresim: unknown or missing job token"})
		return
	}
	q := r.URL.Query()
	switch host {
	case GitHubTokenHost:
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "GET only"})
			return
		}
		aud := q.Get("audience")
		if aud == "" {
			aud = "https://github.com/azuresim"
		}
		tok, err := s.idToken(GitHubIssuer, job.subject, aud, 5*time.Minute)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": tok})
	case PipelinesHost:
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "POST only"})
			return
		}
		if q.Get("serviceConnectionId") != job.connectionID {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "azuresim: the job may not use service connection " + q.Get("serviceConnectionId")})
			return
		}
		tok, err := s.idToken(PipelinesIssuer, job.subject, FederatedAudience, 15*time.Minute)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"oidcToken": tok})
	}
}
