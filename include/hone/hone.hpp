// hone's public C++ API: everything a program needs to load, run and measure a model.
#pragma once

#include "hone/dtype.hpp"
#include "hone/session.hpp"
#include "hone/status.hpp"
#include "hone/tensor.hpp"
