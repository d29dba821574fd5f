#pragma once
// latentlab's umbrella header: everything a program that links latentlab::latentlab uses, in one include.
// Settings (config.h), data (data.h), the model interface and registry (model.h) and the built-in models
// (models/), the trainer and run folders (train.h), weights files (weights.h, safetensors.h), evaluation (eval.h,
// classifier.h), pictures and files (io.h, plot.h, report.h), the dashboard (dashboard.h) and
// data-parallel training (distributed.h). examples/consumer/ is a program built this way.
#include "latentlab/classifier.h"
#include "latentlab/config.h"
#include "latentlab/dashboard.h"
#include "latentlab/data.h"
#include "latentlab/distributed.h"
#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/io.h"
#include "latentlab/losses.h"
#include "latentlab/model.h"
#include "latentlab/models/aae.h"
#include "latentlab/models/ae.h"
#include "latentlab/models/gan.h"
#include "latentlab/models/vae.h"
#include "latentlab/nn.h"
#include "latentlab/optim.h"
#include "latentlab/plot.h"
#include "latentlab/presets.h"
#include "latentlab/progress.h"
#include "latentlab/regularizers.h"
#include "latentlab/report.h"
#include "latentlab/run_folder.h"
#include "latentlab/safetensors.h"
#include "latentlab/train.h"
#include "latentlab/weights.h"
