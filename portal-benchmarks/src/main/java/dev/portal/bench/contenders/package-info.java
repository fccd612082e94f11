@NullMarked
package dev.portal.bench.contenders;

import org.jspecify.annotations.NullMarked;
