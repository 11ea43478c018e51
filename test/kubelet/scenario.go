package kubelet

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/credentialprovider/plugin"
	"k8s.io/kubernetes/pkg/util/parsers"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
)

// The kubelet's plugin registry is process-global and a provider name may
// be registered once: each Scenario (one CredentialProviderConfig and the
// lookups made under it) runs in a process of its own, the test binary
// started again with EnvScenario naming the scenario file.
const EnvScenario = "KUBELET_TEST_SCENARIO"

// ServiceAccount is what the scenario's API server knows of one.
type ServiceAccount struct {
	Namespace, Name, UID string
	Annotations          map[string]string
}

// Lookup is one image pull of one pod: the kubelet strips the tag or
// digest (parsers.ParseImageName) and asks the keyring for the repository.
type Lookup struct {
	Namespace, Pod, PodUID, ServiceAccount string
	Image                                  string
}

// Scenario is one kubelet process: a config, a bin dir, a cluster, pulls.
type Scenario struct {
	Config, BinDir string
	// Issuer and ClusterKey are the cluster's OIDC issuer and its signing
	// key (azuresim.Cluster.KeyPEM), for the TokenRequests the kubelet makes.
	Issuer          string
	ClusterKey      []byte
	ServiceAccounts []ServiceAccount
	Lookups         []Lookup
	// Env is the kubelet's own environment (it is merged under the
	// config's env entries).
	Env []string
}

// Auth is one credential the keyring returned.
type Auth struct{ Username, Password string }

// Result is what one Lookup gave.
type Result struct {
	Lookup Lookup
	Repo   string
	Found  bool
	Auth   []Auth
}

// IssuedToken is one TokenRequest the kubelet made, and its answer.
type IssuedToken struct {
	Namespace, Name string
	Audiences       []string
	BoundPod        string
	BoundPodUID     string
	Token           string
}

// Outcome is what the scenario process reports.
type Outcome struct {
	RegisterError string
	Results       []Result
	Tokens        []IssuedToken
	// Log is the kubelet's log (klog), which holds any plugin stderr.
	Log string
}

// Run starts the test binary again for s and returns what it saw. The
// returned error is about the scenario process itself, not the lookups.
func Run(ctx context.Context, dir string, s Scenario) (Outcome, error) {
	self, err := os.Executable()
	if err != nil {
		return Outcome{}, err
	}
	f, err := os.CreateTemp(dir, "scenario-*.json")
	if err != nil {
		return Outcome{}, err
	}
	defer f.Close()
	if err := json.NewEncoder(f).Encode(s); err != nil {
		return Outcome{}, err
	}
	outPath := f.Name() + ".out"
	cmd := exec.CommandContext(ctx, self, "-test.run=^$")
	cmd.Env = append(slices.Clone(s.Env), EnvScenario+"="+f.Name(), envScenarioOut+"="+outPath)
	var logb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	var o Outcome
	b, err := os.ReadFile(outPath)
	if err != nil {
		return o, fmt.Errorf("scenario process: %v; no outcome (%v); its output:\n%s", runErr, err, logb.String())
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, err
	}
	o.Log = logb.String()
	if runErr != nil {
		return o, fmt.Errorf("scenario process: %v; its output:\n%s", runErr, logb.String())
	}
	return o, nil
}

const envScenarioOut = "KUBELET_TEST_SCENARIO_OUT"

// MaybeRunScenario runs the scenario and exits when this process was
// started by Run; it returns at once otherwise. Call it first in TestMain.
func MaybeRunScenario() {
	path := os.Getenv(EnvScenario)
	if path == "" {
		return
	}
	o, err := runScenario(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubelet scenario:", err)
		os.Exit(2)
	}
	klog.Flush()
	b, _ := json.Marshal(o)
	if err := os.WriteFile(os.Getenv(envScenarioOut), b, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "kubelet scenario:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func runScenario(path string) (Outcome, error) {
	var s Scenario
	b, err := os.ReadFile(path)
	if err != nil {
		return Outcome{}, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return Outcome{}, err
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("v", "4")
	klog.SetOutput(os.Stderr)
	klog.LogToStderr(true)

	var o Outcome
	var cluster *azuresim.Cluster
	if s.Issuer != "" {
		if cluster, err = azuresim.LoadCluster(s.Issuer, s.ClusterKey); err != nil {
			return o, err
		}
	}
	sas := map[string]ServiceAccount{}
	for _, sa := range s.ServiceAccounts {
		sas[sa.Namespace+"/"+sa.Name] = sa
	}
	getSA := func(ns, name string) (*v1.ServiceAccount, error) {
		sa, ok := sas[ns+"/"+name]
		if !ok {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name)
		}
		obj := &v1.ServiceAccount{}
		obj.Namespace, obj.Name, obj.UID, obj.Annotations = sa.Namespace, sa.Name, types.UID(sa.UID), sa.Annotations
		return obj, nil
	}
	getToken := func(ns, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		sa, ok := sas[ns+"/"+name]
		if !ok {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name)
		}
		if cluster == nil {
			return nil, fmt.Errorf("the scenario has no cluster issuer")
		}
		if tr.UID != "" && string(tr.UID) != sa.UID {
			return nil, fmt.Errorf("TokenRequest for %s/%s carries UID %s, the service account's is %s", ns, name, tr.UID, sa.UID)
		}
		var pod azuresim.BoundPod
		if ref := tr.Spec.BoundObjectRef; ref != nil && ref.Kind == "Pod" {
			pod = azuresim.BoundPod{Name: ref.Name, UID: string(ref.UID)}
		}
		life := time.Hour
		if tr.Spec.ExpirationSeconds != nil {
			life = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
		}
		tok, err := cluster.ServiceAccountToken(ns, name, sa.UID, tr.Spec.Audiences, pod, life)
		if err != nil {
			return nil, err
		}
		o.Tokens = append(o.Tokens, IssuedToken{Namespace: ns, Name: name, Audiences: tr.Spec.Audiences, BoundPod: pod.Name, BoundPodUID: pod.UID, Token: tok})
		out := tr.DeepCopy()
		out.Status.Token = tok
		return out, nil
	}
	if err := plugin.RegisterCredentialProviderPlugins(s.Config, s.BinDir, getToken, getSA); err != nil {
		o.RegisterError = err.Error()
		return o, nil
	}
	for _, l := range s.Lookups {
		repo, _, _, err := parsers.ParseImageName(l.Image)
		if err != nil {
			return o, fmt.Errorf("image %q: %w", l.Image, err)
		}
		kr := plugin.NewExternalCredentialProviderDockerKeyring(l.Namespace, l.Pod, l.PodUID, l.ServiceAccount)
		creds, found := kr.Lookup(repo)
		r := Result{Lookup: l, Repo: repo, Found: found}
		for _, c := range creds {
			r.Auth = append(r.Auth, Auth{Username: c.Username, Password: c.Password})
		}
		o.Results = append(o.Results, r)
	}
	return o, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
