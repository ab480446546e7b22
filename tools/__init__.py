"""The commands operators and CI run: doctor, render (and the offline harness under it),
the configuration and compatibility references, chart sources and inputs, versions, URN
history, stack state and the checkov run; beside them the admission model and the
custom-resource validator. The engines that judge a render are in verify/."""
