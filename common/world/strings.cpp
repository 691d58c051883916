#include "common/world/strings.h"

#include <algorithm>
#include <stdexcept>

namespace sog {

// Our own list of common English words, 3 to 7 letters. No word here is used by the world's
// templates, attribute values or task phrasing (the split tests check that a held-out word never
// appears in training text, so such a word could not be held out).
static constexpr std::string_view kCommonWords[] = {
    "apple", "bread", "chair", "table", "river", "stone", "cloud", "water", "light", "night", "plant", "grass",
    "house", "mouse", "tiger", "zebra", "lemon", "mango", "peach", "grape", "melon", "onion", "bacon", "pizza",
    "pasta", "salad", "honey", "sugar", "spice", "salt", "pepper", "butter", "cream", "cheese", "toast", "juice",
    "coffee", "candy", "cookie", "cake", "bottle", "glass", "plate", "spoon", "fork", "knife", "cup", "bowl",
    "pot", "pan", "oven", "sink", "door", "window", "wall", "floor", "roof", "garden", "field", "forest",
    "ocean", "beach", "island", "valley", "desert", "jungle", "hill", "lake", "pond", "storm", "rain", "snow",
    "wind", "sun", "moon", "star", "planet", "comet", "rocket", "engine", "wheel", "truck", "train", "plane",
    "boat", "ship", "bike", "wagon", "road", "bridge", "tower", "castle", "palace", "temple", "church", "school",
    "market", "store", "shop", "bank", "hotel", "office", "farm", "barn", "stable", "fence", "gate", "path",
    "trail", "map", "compass", "clock", "watch", "phone", "radio", "camera", "screen", "paper", "pencil", "crayon",
    "brush", "paint", "canvas", "book", "story", "poem", "song", "music", "drum", "flute", "piano", "guitar",
    "violin", "trumpet", "bell", "whistle", "ball", "kite", "doll", "puzzle", "game", "card", "dice", "coin",
    "money", "gold", "silver", "iron", "copper", "steel", "wood", "brick", "sand", "dust", "mud", "rock",
    "shell", "pearl", "crown", "ring", "chain", "rope", "string", "thread", "needle", "button", "zipper", "pocket",
    "jacket", "coat", "shirt", "skirt", "dress", "sock", "shoe", "boot", "hat", "scarf", "glove", "belt",
    "bag", "box", "basket", "bucket", "barrel", "ladder", "hammer", "nail", "screw", "drill", "saw", "shovel",
    "rake", "hose", "broom", "mop", "towel", "soap", "sponge", "pillow", "blanket", "sheet", "quilt", "mirror",
    "lamp", "candle", "torch", "match", "fire", "smoke", "ash", "flame", "spark", "ice", "frost", "fog",
    "mist", "dew", "thunder", "flash", "shadow", "echo", "voice", "noise", "sound", "quiet", "calm", "brave",
    "happy", "angry", "sad", "funny", "silly", "smart", "quick", "slow", "loud", "soft", "hard", "warm",
    "cold", "hot", "cool", "dry", "wet", "clean", "dirty", "empty", "heavy", "tall", "short", "long",
    "wide", "thin", "thick", "round", "flat", "sharp", "smooth", "rough", "sweet", "sour", "bitter", "fresh",
    "young", "ancient", "early", "late", "bright", "dark", "rich", "poor", "strong", "weak", "gentle", "kind",
    "proud", "shy", "wild", "tame", "eager", "lazy", "busy", "jump", "run", "walk", "swim", "climb",
    "fly", "sing", "dance", "laugh", "smile", "cry", "shout", "whisper", "read", "draw", "build", "break",
    "fix", "open", "close", "push", "pull", "throw", "catch", "kick", "hold", "give", "take", "bring",
    "send", "buy", "sell", "pay", "spend", "save", "lose", "find", "hide", "seek", "wait", "stay",
    "leave", "arrive", "travel", "visit", "explore", "wander", "rest", "sleep", "dream", "wake", "eat", "drink",
    "cook", "bake", "boil", "fry", "grill", "chop", "slice", "mix", "stir", "pour", "taste", "smell",
    "touch", "hear", "see", "listen", "speak", "talk", "tell", "ask", "learn", "teach", "study",
};
static constexpr std::string_view kPalindromes[] = {
    "level", "radar", "civic", "kayak", "refer", "madam", "noon", "rotor", "stats", "tenet", "wow",
    "pop", "dad", "mom", "eye", "peep", "deed", "sees", "solos", "gag", "nun", "racecar", "redder",
    "sagas", "minim", "toot", "pup", "tot", "bib", "gig", "pip", "ewe", "did", "tut", "aha", "huh",
    "mum", "pap", "pep", "sis", "yay", "dud", "eke", "reviver", "repaper", "rotator", "deified", "kook",
};

std::span<const std::string_view> common_words() { return kCommonWords; }
std::span<const std::string_view> palindrome_words() { return kPalindromes; }

std::string sorted_letters(std::string_view word) {
  std::string s(word);
  std::sort(s.begin(), s.end());
  return s;
}

bool is_palindrome(std::string_view word) { return std::equal(word.begin(), word.end(), word.rbegin()); }

static int count_letter(std::string_view word, char c) {
  return static_cast<int>(std::count(word.begin(), word.end(), c));
}

static void check_problem(const StringProblem& p, const char* where) {
  if (!is_string_task(p.kind))
    throw std::invalid_argument(std::string(where) + ": task \"" + std::string(task_name(p.kind)) + "\" is not a string task");
  if (p.word.empty()) throw std::invalid_argument(std::string(where) + ": empty word");
  if (p.kind == TaskKind::count && (p.letter < 'a' || p.letter > 'z'))
    throw std::invalid_argument(std::string(where) + ": count of '" + std::string(1, p.letter) +
                                "' in '" + p.word + "', expected a lower-case letter");
}

std::string string_answer(const StringProblem& p) {
  check_problem(p, "string_answer");
  switch (p.kind) {
    case TaskKind::reverse: return std::string(p.word.rbegin(), p.word.rend());
    case TaskKind::count: return std::to_string(count_letter(p.word, p.letter));
    case TaskKind::sort: return sorted_letters(p.word);
    case TaskKind::palindrome: return is_palindrome(p.word) ? "yes" : "no";
    case TaskKind::first: return std::string(1, p.word.front());
    case TaskKind::last: return std::string(1, p.word.back());
    default: break;
  }
  throw std::logic_error("string_answer: unreachable");
}

Task string_task(const StringProblem& p, AnswerFormat format) {
  check_problem(p, "string_task");
  const std::string w = "'" + p.word + "'";
  std::string q;
  switch (p.kind) {
    case TaskKind::reverse: q = "Reverse the word " + w + "."; break;
    case TaskKind::count: q = "How many times does the letter '" + std::string(1, p.letter) + "' appear in " + w + "?"; break;
    case TaskKind::sort: q = "Sort the letters of " + w + " alphabetically."; break;
    case TaskKind::palindrome: q = "Is " + w + " a palindrome?"; break;
    case TaskKind::first: q = "What is the first letter of " + w + "?"; break;
    case TaskKind::last: q = "What is the last letter of " + w + "?"; break;
    default: break;
  }
  if (format == AnswerFormat::worked) q += step_by_step_suffix;
  return Task{q, string_answer(p), p.kind, format};
}

// "apple" → "a p p l e"
static std::string spelled(std::string_view word) {
  std::string s;
  for (size_t i = 0; i < word.size(); i++) { if (i) s += ' '; s += word[i]; }
  return s;
}

std::string string_worked_solution(const StringProblem& p) {
  check_problem(p, "string_worked_solution");
  const std::string reversed(p.word.rbegin(), p.word.rend());
  std::string text = "Letters: " + spelled(p.word) + "\n";
  switch (p.kind) {
    case TaskKind::reverse: text += "Reversed: " + spelled(reversed) + "\n"; break;
    case TaskKind::count: {
      std::string positions;
      for (size_t i = 0; i < p.word.size(); i++)
        if (p.word[i] == p.letter) positions += (positions.empty() ? "" : ", ") + std::to_string(i + 1);
      const bool one = !positions.empty() && positions.find(',') == std::string::npos;
      text += std::string(1, p.letter) +
              (positions.empty() ? " is at no position" : (one ? " is at position " : " is at positions ") + positions) + "\n";
      break;
    }
    case TaskKind::sort: text += "Sorted: " + spelled(sorted_letters(p.word)) + "\n"; break;
    case TaskKind::palindrome:
      text += "Reversed: " + spelled(reversed) + "\nSame: " + (reversed == p.word ? "yes" : "no") + "\n";
      break;
    case TaskKind::first: text += "First: " + std::string(1, p.word.front()) + "\n"; break;
    case TaskKind::last: text += "Last: " + std::string(1, p.word.back()) + "\n"; break;
    default: break;
  }
  return text + "Answer: " + string_answer(p);
}

char random_count_letter(std::string_view word, Rng& rng) {
  if (word.empty()) throw std::invalid_argument("random_count_letter: empty word");
  if (rng.below(4) != 0) return word[rng.below(word.size())];  // three times in four: a letter of the word
  return static_cast<char>('a' + rng.below(26));                // else any letter (often absent)
}

}  // namespace sog
