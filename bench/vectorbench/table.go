package main

import (
	"fmt"
	"strings"
)

// row is one engine's line of the table, read from its JSON.
type row struct {
	engine string
	build  string // points/s of upsert or index build
	open   string // open time of the saved index
	search map[string]map[string]any
	mem    map[string]any
	note   string
}

func ourRow(name string, ours map[string]any) row {
	up, _ := ours["upsert"].(map[string]any)
	sv, _ := ours["serve"].(map[string]any)
	r := row{engine: name, search: map[string]map[string]any{}}
	r.build = fmt.Sprintf("%.0f (%.0f s)", num(up["points_per_s"]), num(up["upsert_s"]))
	r.open = fmt.Sprintf("%.2f s load", num(sv["open_s"]))
	if open, ok := sv["mem_after_open"].(map[string]any); ok {
		r.open += fmt.Sprintf(" (VmRSS %.0f MiB after it)", num(open["VmRSS_mib"]))
	}
	if rb, ok := ours["rebuild"].(map[string]any); ok {
		r.open += fmt.Sprintf(", %.1f s rebuild", num(rb["rebuild_s"]))
	}
	if s, ok := sv["search"].(map[string]any); ok {
		for name, v := range s {
			r.search[name], _ = v.(map[string]any)
		}
	}
	r.mem, _ = sv["mem"].(map[string]any)
	r.note = "upsert through Collections (store + graph, one writer); filter inside the walk or exact over the matches (planner)"
	if sv["payload_index"] == true {
		r.note += fmt.Sprintf("; payload indexes on group and tag (built in %.2f s)", num(sv["payload_index_s"]))
	}
	return r
}

func peerRow(name string, res map[string]any) row {
	r := row{engine: fmt.Sprintf("%s %v", name, res["version"]), search: map[string]map[string]any{}}
	r.build = fmt.Sprintf("%.0f (%.0f s)", num(res["points_per_s"]), num(res["build_s"]))
	r.open = "—"
	if s, ok := res["search"].(map[string]any); ok {
		for n, v := range s {
			r.search[n], _ = v.(map[string]any)
		}
	}
	r.mem, _ = res["mem"].(map[string]any)
	r.note, _ = res["filter_how"].(string)
	return r
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// markdown renders the rows: one table of search per filter, one of build
// and memory.
func markdown(cfg config, rows []row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d points, %d-d cosine, %d held-out queries, k = %d, M = %d, efConstruction = %d, ef = %d; %d clients / threads\n\n",
		cfg.N, cfg.Dims, cfg.Queries, k, cfg.M, cfg.EfConstruction, cfg.EfSearch, cfg.Clients)
	b.WriteString("| engine | filter | recall@10 | p50 ms | p99 ms | 2-client QPS | 2-client p99 ms |\n|---|---|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		for _, f := range filterNames {
			s := r.search[f]
			if s == nil {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %.4f | %.3f | %.3f | %.0f | %.3f |\n", r.engine, f,
				num(s["recall_at_10"]), num(s["p50_ms"]), num(s["p99_ms"]), num(s["clients_qps"]), num(s["clients_p99_ms"]))
		}
	}
	b.WriteString("\nMemory after all the queries, MiB (edgesearch: of the serving process, after a GC; peers: after building and querying).\n\n")
	b.WriteString("| engine | build, points/s | open | VmRSS | RssAnon | RssFile | VmHWM | filtering |\n|---|--:|---|--:|--:|--:|--:|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %s |\n", r.engine, r.build, r.open,
			num(r.mem["VmRSS_mib"]), num(r.mem["RssAnon_mib"]), num(r.mem["RssFile_mib"]), num(r.mem["VmHWM_mib"]), r.note)
	}
	return b.String()
}
