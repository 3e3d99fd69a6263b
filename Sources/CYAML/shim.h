// Debian's libyaml (libyaml-dev, pkg-config yaml-0.1): the event parser that
// Sources/SkeinKit/Pipeline/YAMLReader.swift composes pipeline files from.
#include <yaml.h>
